"""The command line: one ``main`` that parses arguments, calls the library and maps its errors
to messages and exit codes; printing reports; progress.
"""
