"""Integrations: the model people configure and its persistence (secrets encrypted, mappings versioned)."""
from pipelines.integrations.model import Integration, StoredIntegration
from pipelines.integrations.repository import (
    IntegrationExists,
    IntegrationNotFound,
    MappingRejected,
    create_integration,
    delete_integration,
    get_integration,
    get_integration_by_id,
    list_integrations,
    list_mapping_versions,
    masked_config,
    rollback_mapping,
    save_mapping,
    set_active,
    set_callbacks_disabled,
    update_integration,
)

__all__ = [
    "Integration",
    "IntegrationExists",
    "IntegrationNotFound",
    "MappingRejected",
    "StoredIntegration",
    "create_integration",
    "delete_integration",
    "get_integration",
    "get_integration_by_id",
    "list_integrations",
    "list_mapping_versions",
    "masked_config",
    "rollback_mapping",
    "save_mapping",
    "set_active",
    "set_callbacks_disabled",
    "update_integration",
]
