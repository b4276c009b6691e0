"""Oozo operator: reconciles RagCorpus resources into running RAG services."""
