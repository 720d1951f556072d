"""The benchmark, run by hand (`make bench`), never in CI: each module measures one part
and returns its rows; `python -m bench` prints them as one Markdown table."""
