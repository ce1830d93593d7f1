def test_auth_status_is_401_for_invalid_token_and_403_for_every_other_refusal() -> None:
    from relaypass import errors

    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.RelaypassError):
            exc = cls.__new__(cls)  # the property reads only the class's code
            expected = 401 if cls.code is errors.ErrorCode.INVALID_TOKEN else 403
            assert exc.auth_status == expected, cls
