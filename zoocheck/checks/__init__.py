"""Checks: functions that return typed, frozen results and never raise for a model's failure."""
