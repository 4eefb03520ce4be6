// learning-server: the service's entry point. Wiring lands with the service API (issue #5).
print("learning-server: not wired yet")
