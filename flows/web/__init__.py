"""The web workplace (办公平台): server-rendered pages over the same services as the CLI.

``gongwen serve`` (``flows/cli_web.py``) starts :func:`gongwen_engine.flows.web.app.create_app`
under Uvicorn. Secretaries compose or upload and launch, and follow the cascade; leaders work
through their 待办 and sign, return, instruct or delegate; archivists search the archive, read
records and download files. Every rule lives in the service layer (``flows/engine.py``,
``flows/views.py``, ``flows/receiving.py``, ``flows/archiving.py``, ...); these modules only
turn requests into calls and results into pages.
"""
