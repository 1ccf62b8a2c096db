"""The signal engine: decision rules with known error rates behind every flag and trend arrow."""
