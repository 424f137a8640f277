"""The Streamlit console: thin pages over the connector, the knowledge base, the action pipeline and the co-pilot."""
