"""The initial schema: nodes, hierarchy, links, tags, references, change log."""

STATEMENTS = [
    """CREATE NODE TABLE Node(
        id STRING, kind STRING, title STRING, title_key STRING, content STRING,
        properties STRING, created_at TIMESTAMP, updated_at TIMESTAMP, version INT64,
        status STRING, parent_id STRING, position STRING,
        task_status STRING, priority INT64, due DATE, scheduled DATE, completed_at TIMESTAMP,
        created_seq INT64,
        PRIMARY KEY(id))""",
    "CREATE REL TABLE CHILD_OF(FROM Node TO Node)",
    "CREATE REL TABLE LINKS_TO(FROM Node TO Node)",
    "CREATE REL TABLE MEMBER_OF(FROM Node TO Node)",
    # A Ref is a normalised [[reference]] text; it exists only while referenced.
    "CREATE NODE TABLE Ref(key STRING, PRIMARY KEY(key))",
    "CREATE REL TABLE REFERS(FROM Node TO Ref)",
    "CREATE REL TABLE TITLED(FROM Node TO Ref)",
    """CREATE NODE TABLE ChangeSet(
        seq INT64, at TIMESTAMP, label STRING, ops STRING, undoes INT64,
        PRIMARY KEY(seq))""",
]
