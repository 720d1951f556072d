"""What every stage stands on: its params, its files, all-or-nothing writing, and the one
error a user can act on."""
