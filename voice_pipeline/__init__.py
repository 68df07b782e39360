"""voice_pipeline: a small, offline voice-agent service that runs in the pods.

Audio comes in over a WebSocket, goes through a chain of frame processors
(resampling, voice activity detection, speech to text, a rule-based
responder, text to speech) and the reply goes back as text and audio.
"""

__version__ = "0.1.0"
