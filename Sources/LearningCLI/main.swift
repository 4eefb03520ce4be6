// learning: the command-line client. Lands with the service API (issue #5).
print("learning: not wired yet")
