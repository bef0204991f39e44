"""robustscope's Python side: reading result files (results), their schema (schema), statistics (stats)."""
