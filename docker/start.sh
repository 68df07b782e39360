#!/bin/sh
# Start command of the pod image.
#
# 1. Authorize $PUBLIC_KEY for root's SSH (RunPod's convention).
# 2. On a new volume, clone $REPO_URL (when set) into the workspace checkout.
#    Refresh the app directory from the checkout, when there is one, so a pod
#    restarted after `git pull` runs what was pulled.
# 3. Start the service under the podtui pod agent, which records its pid and
#    start time so podtui can stop and restart it later.
# 4. Keep the container alive: sshd in the foreground (or wait forever).
#
# Every path is overridable by an environment variable, so the script runs
# against a temporary tree in the tests.
set -eu

APP_DIR=${APP_DIR:-/app/src}
WORKSPACE=${WORKSPACE:-/workspace}
CHECKOUT=${CHECKOUT:-$WORKSPACE/voice-pipeline}
DEPLOYED_PATHS=${DEPLOYED_PATHS:-voice_pipeline}
AGENT=${AGENT:-/opt/podtui/agent.py}
STATE_DIR=${STATE_DIR:-/root/.podtui}
LOG_DIR=${LOG_DIR:-$WORKSPACE/logs}
PYTHON=${PYTHON:-python3}
HOST=${HOST:-0.0.0.0}
PORT=${PORT:-8000}
SSH_DIR=${SSH_DIR:-/root/.ssh}
START_SSHD=${START_SSHD:-1}
START_APP=${START_APP:-1}
KEEP_ALIVE=${KEEP_ALIVE:-1}

say() {
    echo "start.sh: $*"
}

authorize_key() {
    [ -n "${PUBLIC_KEY:-}" ] || return 0
    mkdir -p "$SSH_DIR"
    chmod 700 "$SSH_DIR"
    touch "$SSH_DIR/authorized_keys"
    chmod 600 "$SSH_DIR/authorized_keys"
    if ! grep -qxF "$PUBLIC_KEY" "$SSH_DIR/authorized_keys"; then
        printf '%s\n' "$PUBLIC_KEY" >>"$SSH_DIR/authorized_keys"
        say "authorized the key from PUBLIC_KEY"
    fi
}

# A new volume has no checkout yet: clone one when the pod says from where.
# A failed clone is reported and the pod goes on with the image's app.
clone_checkout() {
    [ -n "${REPO_URL:-}" ] && [ ! -e "$CHECKOUT" ] || return 0
    mkdir -p "$(dirname "$CHECKOUT")"
    if git clone --quiet -- "$REPO_URL" "$CHECKOUT"; then
        say "cloned the project into $CHECKOUT"
    else
        say "could not clone the project into $CHECKOUT; the image's app runs"
        rm -rf "$CHECKOUT"
    fi
}

# Replace each deployed path in the app directory with the checkout's copy.
# The copy goes to a temporary name first, so a failed copy leaves the old
# version in place.
refresh_app() {
    if [ ! -d "$CHECKOUT" ]; then
        say "no checkout at $CHECKOUT; $APP_DIR left as it is"
        return 0
    fi
    mkdir -p "$APP_DIR"
    for path in $DEPLOYED_PATHS; do
        if [ ! -e "$CHECKOUT/$path" ]; then
            say "checkout has no $path; skipped"
            continue
        fi
        rm -rf "$APP_DIR/$path.incoming"
        cp -R "$CHECKOUT/$path" "$APP_DIR/$path.incoming"
        rm -rf "$APP_DIR/$path"
        mv "$APP_DIR/$path.incoming" "$APP_DIR/$path"
        say "copied $CHECKOUT/$path to $APP_DIR/$path"
    done
}

# The agent reads its request as JSON on stdin; Python writes that JSON so no
# path or value is ever pasted into it by the shell.
start_app() {
    mkdir -p "$STATE_DIR" "$LOG_DIR"
    export APP_DIR STATE_DIR LOG_DIR PYTHON HOST PORT
    "$PYTHON" -c '
import json, os
e = os.environ
print(json.dumps({
    "argv": [e["PYTHON"], "-m", "voice_pipeline", "--host", e["HOST"],
             "--port", e["PORT"], "--log-file", e["LOG_DIR"] + "/app.log"],
    "cwd": e["APP_DIR"],
    "env": {"PODTUI_RELEASE_FILE": e["STATE_DIR"] + "/release.json"},
    "output": e["LOG_DIR"] + "/app.out",
    "state_dir": e["STATE_DIR"],
}))' | "$PYTHON" "$AGENT" start
}

keep_alive() {
    if [ "$START_SSHD" != 0 ]; then
        mkdir -p /run/sshd
        ssh-keygen -A >/dev/null
        say "starting sshd"
        exec /usr/sbin/sshd -D -e
    fi
    if [ "$KEEP_ALIVE" != 0 ]; then
        say "waiting"
        exec tail -f /dev/null
    fi
}

authorize_key
clone_checkout
refresh_app
# A service that fails to start must not take the container down with it:
# SSH stays up so the pod can be inspected and fixed.
if [ "$START_APP" != 0 ]; then
    start_app || say "the service did not start; see $LOG_DIR/app.out"
fi
keep_alive
