# Unit suites for fcgi/ (cmocka).
