# The replica recipe in a container: deploy/serve.py (what `make serve` runs) starts REPLICAS Streamlit
# processes on 127.0.0.1 and nginx on 0.0.0.0:PORT with deploy/nginx.conf. Written and reviewed, not built
# here: no container engine runs on the development machines or in CI; tests/test_replicas.py tests the
# command itself.
FROM python:3.11-slim-bookworm

# nginx fronts the replicas; graphviz's dot makes the .svg export; tini reaps the replicas' orphans as PID 1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx graphviz tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# A CPU build of the pinned torch first: from PyPI, torch==2.13.0 pulls a multi-GB CUDA build.
COPY requirements.txt .
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir -r requirements.txt

COPY .streamlit .streamlit
COPY explorer explorer
COPY deploy deploy
COPY streamlit_app.py .

RUN useradd --create-home --uid 10001 explorer
USER explorer

ENV REPLICAS=2 PORT=8501 PYTHONUNBUFFERED=1
EXPOSE 8501
# Through nginx: healthy while at least one replica answers (nginx skips a dead one).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ['PORT'], timeout=4)"

ENTRYPOINT ["tini", "--"]
CMD ["python", "deploy/serve.py", "--address", "0.0.0.0"]
