"""Delivery only: Streamlit pages (app/ui) and, later, the HTTP API (app/api). No business logic here."""
