"""Running the platform: the embedded broker, topics and the `tandem` command line."""
