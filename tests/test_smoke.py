def test_home_page_answers_in_french(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="fr"' in response.get_data(as_text=True)
