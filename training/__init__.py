"""Rebuilding the RAN model's weights from public fundus datasets."""
