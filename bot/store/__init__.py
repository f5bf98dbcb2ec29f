"""Storage and process plumbing: database engines, the writer lock, group commit, the inbox
writer, wake-ups, sealing and migrations."""
