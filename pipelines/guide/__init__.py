"""The client onboarding guide: what an integration's client must send and how, generated from its
configuration (seed 000's "Documentar proceso específico del cliente"; seed 004 is such a guide)."""

from pipelines.guide.document import LANGS, Guide, Lang, build_guide
from pipelines.guide.payload import Payload, build_payload
from pipelines.guide.urls import production_url, staging_url, status_url

__all__ = ["LANGS", "Guide", "Lang", "Payload", "build_guide", "build_payload", "production_url", "staging_url", "status_url"]
