from bot.sandbox.demo import run_demo


async def test_the_demo_passes_every_scene(capsys) -> None:  # type: ignore[no-untyped-def]
    assert await run_demo(verbose=True) == 0
    out = capsys.readouterr().out
    assert (
        "[PASS] /bland help" in out
        and "[PASS] /bland call" in out
        and "[PASS] /bland batch" in out
        and "FAIL" not in out
    )
    assert "Callee: Hello?" in out  # it printed what the thread would show
