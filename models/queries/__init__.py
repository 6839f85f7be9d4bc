"""Read queries (查询): the one home of the SELECTs that services run for interfaces (CLI, web).

Each module holds the reads of one area; a function takes a ``Session`` and returns rows or small
typed records, never renders or decides.
"""
