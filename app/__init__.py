"""The Streamlit admin app (`streamlit run app/main.py`): pages in `app/app_pages/`, shared helpers beside them."""
