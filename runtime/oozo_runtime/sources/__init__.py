"""Fetching documents from where teams keep them (a folder, S3, Git, HTTP) into a local folder
that `oozo index` reads; `oozo fetch` reports an `oozo_contract.fetch.FetchResult`."""
