"""The knowledge base's AI features: answers with citations (`ask`), a task from a
sentence, a checked query from a question, and the model each knowledge base holds.

The models they run on (backends, worker, embeddings) are in `nodespace_lab.models`.
"""
