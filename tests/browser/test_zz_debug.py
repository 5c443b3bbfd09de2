def test_debug(visit):
    page = visit.page
    page.on("console", lambda m: print("CONSOLE", m.type, m.text))
    page.on("pageerror", lambda e: print("PAGEERROR", e))
    visit.goto("/connexion")
    print(page.evaluate("document.getElementById('sign-in-form').getAttribute('hx-target')"))
    page.evaluate("htmx.logAll()")
    page.fill("#email", "a@example.org")
    page.fill("#password", "Motdepasse1")
    page.click("#sign-in-form button")
    page.wait_for_timeout(1500)
    print(page.url)
