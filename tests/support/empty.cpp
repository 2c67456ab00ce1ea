// Keeps glia_test_support a real library even before it has helpers.
