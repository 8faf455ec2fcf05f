from zoocheck.cli import entry_point

entry_point()
