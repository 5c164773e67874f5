# Unit suites for worker/ (cmocka, real SQLite files).
