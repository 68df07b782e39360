# The pod image: the voice_pipeline service, SSH and the podtui pod agent.
#
# Layout, as on the pods: the app in /app/src, the persistent volume at
# /workspace (with the project's git checkout in /workspace/voice-pipeline),
# the service on port 8000 and SSH on port 22.
#
# Build with `podtui image build`, which passes the hash of
# voice_pipeline/requirements.txt; the image records it (label and
# /app/requirements.sha256) so podtui can tell when it is out of date.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG REQUIREMENTS_HASH=""

RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-server espeak-ng git \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /run/sshd /root/.ssh /workspace \
    && chmod 700 /root/.ssh \
    && sed -i 's/^#\?PermitRootLogin .*/PermitRootLogin prohibit-password/' \
        /etc/ssh/sshd_config \
    && sed -i 's/^#\?PasswordAuthentication .*/PasswordAuthentication no/' \
        /etc/ssh/sshd_config

# Dependencies first: this layer is rebuilt only when the requirements change.
COPY voice_pipeline/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt \
    && sha256sum /app/requirements.txt | cut -d' ' -f1 > /app/requirements.sha256 \
    && if [ -n "$REQUIREMENTS_HASH" ] \
        && [ "$REQUIREMENTS_HASH" != "$(cat /app/requirements.sha256)" ]; then \
        echo "REQUIREMENTS_HASH does not match voice_pipeline/requirements.txt" >&2; \
        exit 1; \
    fi
LABEL podtui.requirements-hash=$REQUIREMENTS_HASH

COPY podtui/agent.py /opt/podtui/agent.py
COPY docker/start.sh /opt/podtui/start.sh
COPY voice_pipeline /app/src/voice_pipeline

WORKDIR /app/src
EXPOSE 8000 22
CMD ["sh", "/opt/podtui/start.sh"]
