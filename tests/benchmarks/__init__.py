"""Smoke runs of the benchmarks and the reliability report at tiny sizes."""
