"""`meshgen plan`: what a change of the spec does to each cluster.

collect.py reads the two file sets (the output on disk, or committed at a git revision, and
the compiled spec), diff.py turns the files whose bytes differ into object and field changes,
classify.py marks the disruptive ones, assemble.py groups and orders them (clusters in spec
order, apply order within a cluster) and format.py prints them as text, Markdown or JSON.
"""
