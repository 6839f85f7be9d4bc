"""The web workplace (办公平台): server-rendered pages over the same services as the CLI.

``gongwen serve`` (``flows/cli/web.py``) starts :func:`gongwen_engine.flows.web.app.create_app`
under Uvicorn. Secretaries compose or upload and launch, and follow the cascade; leaders work
through their 待办 and sign, return, instruct or delegate; archivists search the archive, read
records and download files.

``app.py`` builds the application and its error pages; ``deps.py`` the signed-in user and the
CSRF check; ``pages.py`` rendering and what every page shares; ``routes/`` one module per kind of
user; ``cascade.py`` the cascade picture; ``templates/`` the Jinja pages. Every read and write
goes through ``flows/services`` (never a database session here); these modules only turn
requests into calls and results into pages.
"""
