raise ImportError("this test app cannot be imported")
