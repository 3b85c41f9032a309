"""The `ensync-tui` command: the entry point (`ensync_tui.cli.main:main`) and one
module per command. Nothing heavy is imported until a command runs."""
