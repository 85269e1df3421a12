"""Helpers of the hostile-input tests (`test_hostile_input.py`, what is posted;
`test_hostile_escaping.py`, what comes back):

    strategies   hostile values (text, numbers, dates, ids, files, forged fields)
                 and the values of a form field drawn from its type
    stage        client 23's requests at every step of both processes, and one
                 example run in a savepoint under PostgreSQL's refusals
    inventory    the form endpoints (`ENDPOINTS`) and what each is sent, and the
                 pages declared without input
    hazards      the inputs that once made a 500, replayed by name (`HAZARDS`)
    showcases    one payload saved through each text field and where it is read
                 back (`SHOWCASES`), with the checks of what comes back
"""
