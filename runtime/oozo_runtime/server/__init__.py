"""The query server: FastAPI app factory (`app.create_app`), routers per area under `routes/`."""
