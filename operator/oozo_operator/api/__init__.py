"""The RagCorpus API: pydantic models that are both the operator's parser and the CRD's schema."""
