"""The routes of the web workplace, one module per kind of user: sign-in (everyone), secretary
(拟稿、收文、流转), leader (待办), archivist (档案) and board (督办台账)."""
