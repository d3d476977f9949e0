"""The Streamlit admin app (`streamlit run app/main.py`): pages in `app/pages/`, shared helpers beside them."""
