"""`kubectl oozo`: the kubectl plugin for RagCorpus resources (status, query, reindex, backup,
versions, logs, report). It talks to the API server only, with the user's own kubeconfig and
permissions, and reads the operator's published interface (the CRD's status, its labels and
annotations) as data: it never imports the operator or the runtime."""
