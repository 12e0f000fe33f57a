"""Vector-store integrations: ``langchain`` (``pip install "vecs-sqlgen[langchain]"``) and
``llama_index`` (``pip install "vecs-sqlgen[llama-index]"``). Each module imports its framework."""
