"""`make bench`: server-side time and query count of Tandem's heavy pages and
services, each against its floor measured in the same run (see BENCHMARKS.md)."""
