"""The words of the Cypher allow-list: keywords, functions and procedures.

KEYWORDS is every keyword of kuzu 0.11.3 and ladybug 0.22 (`src/antlr4/keywords.txt`
of both, plus those of newer LadybugDB grammars). A word that is one of them is
checked against the lists below; any other word is a variable, label or alias.
"""

from __future__ import annotations

# Clauses and operators of read queries.
READ = frozenset(
    {"MATCH", "OPTIONAL", "WHERE", "WITH", "RETURN", "ORDER", "BY", "SKIP", "LIMIT", "UNWIND",
     "UNION", "ALL", "DISTINCT", "AS", "AND", "OR", "NOT", "XOR", "CASE", "WHEN", "THEN", "ELSE",
     "END", "IN", "IS", "NULL", "TRUE", "FALSE", "STARTS", "ENDS", "CONTAINS", "EXISTS", "COUNT",
     "CAST", "ANY", "NONE", "SINGLE", "ASC", "ASCENDING", "DESC", "DESCENDING", "CALL", "YIELD",
     "SHORTEST", "WSHORTEST", "TRAIL", "ACYCLIC", "HINT", "JOIN", "MULTI_JOIN", "DECIMAL",
     "STRUCT", "MAP"}
)  # fmt: skip
# Keywords that mean something only after a statement keyword refused below (CREATE
# NODE TABLE, COPY ... FROM, ALTER ... RENAME TO): harmless alone, so common names
# such as `from`, `to`, `node`, `key` or `type` stay usable as variables.
NAMES = frozenset({"FROM", "TO", "KEY", "NODE", "REL", "TABLE", "TYPE", "GROUP", "START",
                   "ROLE", "USER", "GRAPH"})  # fmt: skip
# Updating clauses: allowed only with write=True (and the security setting).
WRITE = frozenset({"CREATE", "MERGE", "SET", "DELETE", "REMOVE", "DETACH", "ON"})
# Never through kb.cypher(): files, extensions, other databases, transaction control.
NEVER = frozenset(
    {"LOAD", "COPY", "EXPORT", "IMPORT", "INSTALL", "UNINSTALL", "UPDATE", "FORCE", "EXTENSION",
     "ATTACH", "USE", "DATABASE", "DBTYPE", "EXTERNAL", "GLOB", "HEADERS", "BEGIN", "COMMIT",
     "ROLLBACK", "CHECKPOINT", "COMMIT_SKIP_CHECKPOINT", "ROLLBACK_SKIP_CHECKPOINT",
     "TRANSACTION", "READ", "WRITE", "ONLY"}
)  # fmt: skip
# Never through kb.cypher(): the schema belongs to migrations and kb.define().
SCHEMA = frozenset(
    {"ALTER", "DROP", "ADD", "RENAME", "COLUMN", "COMMENT", "MACRO", "SEQUENCE", "PRIMARY",
     "DEFAULT", "INDEX", "ANALYZE", "INCREMENT", "MINVALUE", "MAXVALUE", "CYCLE", "NO", "IF",
     "PROJECT", "RDFGRAPH", "CSR", "SORTED", "OPTIONS", "FOR", "PASSWORD", "PARTITION",
     "PARTITIONS"}
)  # fmt: skip
# A statement may only be prefixed by these (EXPLAIN LOGICAL is EXPLAIN's variant).
PREFIXES = frozenset({"EXPLAIN", "PROFILE"})
KEYWORDS = READ | NAMES | WRITE | NEVER | SCHEMA | PREFIXES | {"LOGICAL"}
# Words a statement may begin with.
READ_STARTS = frozenset({"MATCH", "OPTIONAL", "UNWIND", "WITH", "RETURN", "CALL"})
WRITE_STARTS = READ_STARTS | {"CREATE", "MERGE"}
# Types that take arguments in CAST(x AS DECIMAL(10, 2)).
TYPE_CONSTRUCTORS = frozenset({"DECIMAL", "STRUCT", "MAP", "UNION"})

# Read-only table functions for CALL: they list the schema and the engine's functions.
PROCEDURES = frozenset({"SHOW_TABLES", "TABLE_INFO", "SHOW_CONNECTION", "SHOW_FUNCTIONS",
                        "DB_VERSION"})  # fmt: skip

# Read-only functions of both engines (`CALL show_functions()`): aggregates, text, lists,
# dates, maths, casts, nodes and paths. Left out on purpose: nextval/currval
# (sequences), setseed and error (state), json_* and stem (kuzu only), internal helpers.
FUNCTIONS = frozenset(
    {
        # aggregates
        "AVG", "COLLECT", "COUNT", "MAX", "MIN", "SUM", "COUNT_IF", "HISTOGRAM",
        "PERCENTILECONT", "PERCENTILEDISC",
        # nodes, relationships, paths
        "ID", "LABEL", "LABELS", "KEYS", "LENGTH", "START_NODE", "END_NODE", "COST", "NODES",
        "RELS", "RELATIONSHIPS", "PROPERTIES", "IS_TRAIL", "IS_ACYCLIC", "OFFSET",
        # null handling, comparison, hashing
        "COALESCE", "IFNULL", "NULLIF", "GREATEST", "LEAST", "HASH", "MD5", "SHA256", "TYPEOF",
        "EQUALS", "NOT_EQUALS", "GREATER_THAN", "GREATER_THAN_EQUALS", "LESS_THAN",
        "LESS_THAN_EQUALS", "GEN_RANDOM_UUID", "RANDOM", "UUID",
        # text
        "LOWER", "UPPER", "LCASE", "UCASE", "TOLOWER", "TOUPPER", "INITCAP", "TRIM", "LTRIM",
        "RTRIM", "LPAD", "RPAD", "LEFT", "RIGHT", "SUBSTR", "SUBSTRING", "CONCAT", "CONCAT_WS",
        "CONTAINS", "STARTS_WITH", "ENDS_WITH", "PREFIX", "SUFFIX", "REPEAT", "REVERSE",
        "REPLACE", "SIZE", "OCTET_LENGTH", "LEVENSHTEIN", "SPLIT_PART", "STRING_SPLIT",
        "STR_SPLIT", "STRING_TO_ARRAY", "REGEXP_MATCHES", "REGEXP_FULL_MATCH", "REGEXP_EXTRACT",
        "REGEXP_EXTRACT_ALL", "REGEXP_REPLACE", "REGEXP_SPLIT_TO_ARRAY", "ENCODE", "DECODE",
        # lists and arrays
        "RANGE", "LIST_ANY_VALUE", "LIST_APPEND", "LIST_CAT", "LIST_CONCAT", "LIST_CONTAINS",
        "LIST_DISTINCT", "LIST_ELEMENT", "LIST_EXTRACT", "LIST_FILTER", "LIST_HAS",
        "LIST_HAS_ALL", "LIST_HAS_ANY", "LIST_INDEXOF", "LIST_POSITION", "LIST_PREPEND",
        "LIST_PRODUCT", "LIST_REDUCE", "LIST_REVERSE", "LIST_REVERSE_SORT", "LIST_SLICE",
        "LIST_SORT", "LIST_SUM", "LIST_MAX", "LIST_MIN", "LIST_TO_STRING", "LIST_TRANSFORM",
        "LIST_UNIQUE", "ARRAY_APPEND", "ARRAY_CAT", "ARRAY_CONCAT", "ARRAY_CONTAINS",
        "ARRAY_COSINE_SIMILARITY", "ARRAY_CROSS_PRODUCT", "ARRAY_DISTANCE", "ARRAY_DOT_PRODUCT",
        "ARRAY_EXTRACT", "ARRAY_HAS", "ARRAY_INDEXOF", "ARRAY_INNER_PRODUCT", "ARRAY_POSITION",
        "ARRAY_PREPEND", "ARRAY_PUSH_BACK", "ARRAY_PUSH_FRONT", "ARRAY_SLICE",
        "ARRAY_SQUARED_DISTANCE", "ARRAY_VALUE", "CARDINALITY", "ELEMENT_AT",
        # maps, structs, unions
        "MAP", "MAP_EXTRACT", "MAP_KEYS", "MAP_VALUES", "STRUCT_EXTRACT", "STRUCT_PACK",
        "UNION_EXTRACT", "UNION_TAG", "UNION_VALUE",
        # dates and times
        "DATE", "TIMESTAMP", "INTERVAL", "DURATION", "CURRENT_DATE", "CURRENT_TIMESTAMP",
        "DATE_PART", "DATEPART", "DATE_TRUNC", "DATETRUNC", "DAYNAME", "MONTHNAME", "LAST_DAY",
        "MAKE_DATE", "CENTURY", "EPOCH_MS", "TO_EPOCH_MS", "TIME_BUCKET", "TO_YEARS",
        "TO_MONTHS", "TO_DAYS", "TO_HOURS", "TO_MINUTES", "TO_SECONDS", "TO_MILLISECONDS",
        "TO_MICROSECONDS",
        # maths
        "ABS", "ACOS", "ASIN", "ATAN", "ATAN2", "CBRT", "CEIL", "CEILING", "COS", "COT",
        "DEGREES", "EVEN", "FACTORIAL", "FLOOR", "GAMMA", "LGAMMA", "LN", "LOG", "LOG10", "LOG2",
        "NEGATE", "PI", "POW", "RADIANS", "ROUND", "SIGN", "SIN", "SQRT", "TAN",
        "BITWISE_AND", "BITWISE_OR", "BITWISE_XOR", "BITSHIFT_LEFT", "BITSHIFT_RIGHT",
        # casts
        "CAST", "STRING", "BLOB", "TO_BLOB", "TO_BOOL", "TO_DATE", "TO_DOUBLE", "TO_FLOAT",
        "TO_INT8", "TO_INT16", "TO_INT32", "TO_INT64", "TO_INT128", "TO_UINT8", "TO_UINT16",
        "TO_UINT32", "TO_UINT64", "TO_UINT128", "TO_SERIAL", "TO_STRING", "TO_TIMESTAMP",
        "TO_INTERVAL", "TO_UUID",
    }
)  # fmt: skip
