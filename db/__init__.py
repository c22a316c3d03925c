"""The only package that speaks SQL: an asyncpg pool and async functions per aggregate."""
