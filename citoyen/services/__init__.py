"""Domain rules. Plain functions that take a session and the acting person,
own their transaction and raise DomainError with the French sentence to show."""
