# The support agent's one image: the API (default command), the Streamlit UI and the one-shot migrate/seed
# job all run from it (see docker-compose.yml). Build: `docker build -t support-agent .`
FROM python:3.11-slim-bookworm

# No part may need the internet at run time: the embedding weights come from an installed package
# (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE). PYTHONPATH=/app imports the source tree under /app rather than the
# copy pip puts in site-packages, whatever the entry point (`python -m`, uvicorn, `streamlit run`), so all
# agree on PROJECT_ROOT=/app: the KB content, the migrations and the studio's subprocesses live in one place.
# ENV=prod unless told otherwise: a bare `docker run` listens on 0.0.0.0, so it must refuse to start without a
# real API_SECRET (development's public default would let anyone sign tokens) and with demo passwords.
ENV ENV=prod \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DATA_DIR=/app/var \
    PYTHONPATH=/app

WORKDIR /app

# torch first and alone, from the CPU index: asking PyPI for it would pull several GB of CUDA libraries.
# The `==2.13.0` pins in the project match the installed 2.13.0+cpu (a local version label), so the next
# step keeps it.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# The dependencies on their own layer, so a source change does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY core/ core/
COPY knowledge/ knowledge/
COPY agent/ agent/
COPY handoff/ handoff/
COPY app/ app/
COPY evals/ evals/
RUN pip install -c constraints.txt . \
    && rm -rf build *.egg-info

# The embedding model's ONNX export, made once here (it is checked against the torch model as it is written),
# so no container spends seconds on it at start. It lives outside DATA_DIR, which deployments may mount.
ENV MODEL_CACHE_DIR=/app/models
RUN python -m knowledge.embeddings --require-onnx

# Non-root; it owns only DATA_DIR (SQLite fallback, spool, embedded Chroma when CHROMA_URL is empty).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/app app \
    && mkdir -p /app/var \
    && chown app:app /app/var
USER app

EXPOSE 8000 8501

CMD ["uvicorn", "app.api.main:app", "--host", "0.0.0.0", "--port", "8000"]
