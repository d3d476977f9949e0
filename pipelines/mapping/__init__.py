"""The mapping engine: JMESPath expressions with Crossdock's functions, compiled to Python once."""

from pipelines.mapping.engine import (
    CompiledMapping,
    InterpretedMapping,
    MappedRecord,
    MappingError,
    MappingIssue,
    compile_mapping,
)
from pipelines.mapping.functions import FUNCTIONS
from pipelines.mapping.paths import source_paths

__all__ = [
    "FUNCTIONS",
    "CompiledMapping",
    "InterpretedMapping",
    "MappedRecord",
    "MappingError",
    "MappingIssue",
    "compile_mapping",
    "source_paths",
]
