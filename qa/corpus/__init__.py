"""The corpus: the documents of a docs folder, how it is watched for changes, and uploads into it."""
