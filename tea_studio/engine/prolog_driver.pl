/*  Runs one TEA Prolog node in a fresh swipl process (tea_studio/engine/prolog_node.py starts it).

    stdin:  one JSON object {"code": Text, "state": Object, "timeout": Seconds, "node": Module}
    stdout: one JSON line, {"ok": true, "update": Object, "failed": Bool}
            or {"ok": false, "kind": sandbox|syntax|timeout|memory|error, "message": Text, "line": N|null}
    stderr: what the node writes (write/1, format/2, print_message/2): the run's log.

    As TEA runs node code: the state's keys are state/2 facts (strings become atoms; null, true and false
    atoms); the code is read term by term in order: `:- Goal` is called, `Head :- Body` is added, a ground
    compound that names no built-in or library predicate is a fact, anything else is a goal called once.
    return/2 collects the update (the last value of a key wins; values set before a goal fails are kept). A
    failing term ends the node without an error, as in TEA. Every goal first passes library(sandbox)'s
    safe_goal/1, and code naming another module (Module:Goal, Goal@Module) is refused before anything runs.
*/
:- module(tea_prolog_driver, [state/2, return/2, tea_load_code/1]).

:- use_module(library(sandbox)).
:- use_module(library(http/json)).
:- use_module(library(time)).
:- use_module(library(lists)).
:- use_module(library(apply)).
:- use_module(library(aggregate)).
:- use_module(library(clpfd)).

:- dynamic state/2.
:- dynamic returned/2.
:- dynamic declared_here/1.

% Harmless beyond library(sandbox)'s list: writing to the current output (the run's log; not write_term/2,
% whose portray_goal option calls a goal), and global variables, which live and die with this process (the
% driver's own names start with '$').
:- multifile sandbox:safe_primitive/1, sandbox:safe_global_variable/1.
sandbox:safe_primitive(system:write(_)).
sandbox:safe_primitive(system:writeq(_)).
sandbox:safe_primitive(system:print(_)).
sandbox:safe_primitive(system:write_canonical(_)).
sandbox:safe_primitive(system:nl).
sandbox:safe_primitive(system:tab(_)).
sandbox:safe_primitive(system:put_char(_)).
sandbox:safe_primitive(system:flush_output).
sandbox:safe_global_variable(Name) :- atom(Name), \+ sub_atom(Name, 0, _, _, '$').

%!  return(+Key, +Value) is det.
%   Sets Key of the node's update (asserted, so that backtracking keeps it, as TEA's return/2 does).
return(Key, Value) :-
    assertz(returned(Key, Value)).

%!  tea_load_code(+Text) is semidet.
%   TEA's way to load Prolog text that arrives in the state (facts an LLM wrote, rules kept as text): its terms
%   are read and run as the node's own code is, each goal checked by the sandbox; fails when a goal fails.
%   Errors keep naming the node code's line that called it.
tea_load_code(Text) :-
    node_module(M),
    text_to_string(Text, String),
    ( nb_current('$tea_line', Line) -> true ; Line = 0 ),
    catch(setup_call_cleanup(true, run_code(M, String, loaded, Outcome), nb_setval('$tea_line', Line)),
          error(syntax_error(What), stream(_, TextLine, _, _)),
          throw(error(syntax_error(What), tea_load_code(TextLine)))),
    Outcome \== failed.

sandbox:safe_primitive(tea_prolog_driver:tea_load_code(_)).

node_module(tea_node).

main :-
    set_prolog_flag(autoload, true),                % a saved state starts with autoloading off
    stream_property(Out, alias(user_output)),
    set_stream(user_input, encoding(utf8)),
    set_stream(Out, encoding(utf8)),
    set_stream(user_error, encoding(utf8)),
    set_stream(user_error, alias(user_output)),     % node output goes to the log, never into the reply
    set_output(user_error),
    nb_setval('$tea_out', Out),
    catch(( json_read_dict(user_input, Request, [value_string_as(atom)]),
            run_request(Request) ),
          Error, ( error_reply(Error, 0, Reply), reply(Reply) )).

run_request(Request) :-
    forall(get_dict(Key, Request.state, Value), assertz(state(Key, Value))),
    node_module(M),
    prepare_module(M),
    atom_string(Request.code, Text),
    catch(call_with_time_limit(Request.timeout, run_code(M, Text, node, Outcome)), Error,
          ( ( nb_current('$tea_line', Line) -> true ; Line = 0 ),
            error_reply(Error, Line, Reply),
            reply(Reply) )),                          % inside the handler: abort/0 rethrows after it
    update(Update),
    ( Outcome == failed -> Failed = true ; Failed = false ),
    reply(_{ok: true, update: Update, failed: Failed}).

%   The one line of JSON on the real stdout, then the end of the process.
reply(Reply) :-
    nb_getval('$tea_out', Out),
    json_write_dict(Out, Reply, [width(0)]),
    nl(Out),
    flush_output(Out),
    halt(0).

%   The node's module sees the preloaded libraries (TEA loads lists, clpfd, apply, aggregate) and state/2,
%   return/2. lists, apply and aggregate come in by autoload, so the node may define its own last/2 etc.
%   Its expansion hooks are fixed (static, never true): a fact the sandbox lets the node assert there would
%   otherwise turn the terms of a library loaded later into directives that run unchecked.
prepare_module(M) :-
    set_module(M:class(user)),
    M:use_module(library(clpfd)),
    M:import(tea_prolog_driver:state/2),
    M:import(tea_prolog_driver:return/2),
    M:import(tea_prolog_driver:tea_load_code/1),
    Hooks = [term_expansion/2, term_expansion/4, goal_expansion/2, goal_expansion/4],
    forall(member(Name/Arity, Hooks),
           ( functor(Head, Name, Arity), M:assertz((Head :- fail)) )),
    findall(M:PI, member(PI, Hooks), Qualified),
    compile_predicates(Qualified).

update(Update) :-
    findall(Key-Value, returned(Key, Value), Pairs),
    foldl(put_returned, Pairs, _{}, Update).

put_returned(Key0-Value0, Update0, Update) :-
    json_key(Key0, Key),
    json_value(Value0, Value),
    put_dict(Key, Update0, Value, Update).

json_key(Key, Key) :- atom(Key), !.
json_key(Key0, Key) :- format(atom(Key), "~w", [Key0]).

%   Prolog terms as TEA returns them: atoms are strings (null, true, false are JSON's), integral floats are
%   integers, pairs A-B are lists, dicts are objects, other compound terms and unbound variables are text/null.
json_value(V, null) :- var(V), !.
json_value(V, V) :- integer(V), !.
json_value(V, J) :- float(V), !, ( V =:= truncate(V), abs(V) < 1.0e15 -> J is truncate(V) ; J = V ).
json_value([], []) :- !.
json_value(V, V) :- atom(V), !.
json_value(V, V) :- string(V), !.
json_value(V, J) :- is_dict(V), !, dict_pairs(V, _, Pairs), foldl(put_returned, Pairs, _{}, J).
json_value(V, J) :- is_list(V), !, maplist(json_value, V, J).
json_value(V, J) :- compound(V), compound_name_arguments(V, -, Args), !, maplist(json_value, Args, J).
json_value(V, J) :- term_string(V, J).

%   Code is read from Text + "\n." so that a last term without its full stop still reads (as TEA appends
%   one); reading ends when the rest of the original text is only layout and comments.
run_code(M, Text, Mode, Outcome) :-
    string_concat(Text, "\n.", Padded),
    string_length(Text, End),
    setup_call_cleanup(open_string(Padded, Stream),
                       run_terms(M, Stream, Text, End, Mode, Outcome),
                       close(Stream)).

run_terms(M, Stream, Text, End, Mode, Outcome) :-
    character_count(Stream, At),
    (   only_layout(Text, At, End)
    ->  Outcome = done
    ;   read_term(Stream, Term, [module(M), term_position(Pos), syntax_errors(error)]),
        stream_position_data(line_count, Pos, Line),
        nb_setval('$tea_line', Line),
        (   Term == end_of_file
        ->  Outcome = done
        ;   run_term(M, Mode, Term)
        ->  run_terms(M, Stream, Text, End, Mode, Outcome)
        ;   Outcome = failed
        )
    ).

only_layout(_, At, End) :- At >= End, !.
only_layout(Text, At, _) :-
    sub_string(Text, At, _, 0, Rest),
    open_string(Rest, S),
    catch(read_term(S, T, []), _, fail),
    close(S),
    T == end_of_file.

run_term(M, Mode, Term) :-
    no_other_module(M, Term),
    term_action(M, Term, Action),
    run_action(Action, Mode, M).

term_action(_, (:- Decl), declare(Decl)) :- declaration(Decl), !.
term_action(_, (:- Goal), goal(Goal)) :- !.
term_action(_, (?- Goal), goal(Goal)) :- !.
term_action(_, (Head --> Body), clause(Clause)) :- !, dcg_translate_rule((Head --> Body), Clause).
term_action(_, (Head :- Body), clause((Head :- Body))) :- !.
term_action(M, Term, clause(Term)) :- fact(M, Term), !.
term_action(_, Goal, goal(Goal)).

%   A rule the node's code defines is checked when a goal calls it. One that tea_load_code/1 adds while a goal
%   runs (a goal already checked) is checked before it is added.
run_action(clause(Clause), Mode, M) :-
    (   Mode == loaded, Clause = (_ :- Body)
    ->  checked(M, Body)
    ;   true
    ),
    M:assertz(Clause).
run_action(declare(Decl), _, M) :-
    M:Decl.
run_action(goal(Goal), _, M) :-
    checked(M, Goal),
    (   once(M:Goal)
    ->  true
    ;   never_defined(M),                          % a goal that failed on a name nothing defines: TEA's error
        fail
    ).

%   safe_goal/1 refuses a call to a predicate nothing defines yet; TEA only fails (or raises) when it is called,
%   and code often defines it on the way (tea_load_code/1 of facts, assertz/1). Such a predicate of the node's
%   module is declared dynamic (no clauses: nothing to check) and the goal checked again.
checked(M, Goal) :-
    catch(safe_goal(M:Goal), error(existence_error(procedure, M:Missing), sandbox(_, _)), true),
    (   var(Missing)
    ->  true
    ;   functor(Missing, Name, Arity),
        M:dynamic(Name/Arity),
        assertz(declared_here(M:Name/Arity)),
        checked(M, Goal)
    ).

never_defined(M) :-
    forall(( declared_here(M:Name/Arity), functor(Head, Name, Arity) ),
           (   predicate_property(M:Head, number_of_clauses(N)), N > 0
           ->  true
           ;   throw(error(existence_error(procedure, Name/Arity), _))
           )).

%   Declarations of the node's own predicates (no other module can be named: see no_other_module/2).
%   library(sandbox) checks these only while a file loads, which is not how node code arrives.
declaration(Decl) :-
    compound(Decl),
    compound_name_arity(Decl, Name, 1),
    memberchk(Name, [dynamic, discontiguous]).

%   TEA's rule: a ground compound is a fact unless it names one of TEA's goal predicates; here also unless it
%   names any built-in or library predicate (TEA would try to add a clause to it and fail).
fact(M, Term) :-
    compound(Term),
    ground(Term),
    \+ goal_functor(Term),
    \+ library_predicate(M, Term).

goal_functor(Term) :-
    functor(Term, Name, _),
    memberchk(Name, [return, state, ',', ';', '->', '*->', '\\+', '=', '\\=', '==', '\\==', is,
                     '<', '>', '=<', '>=', '=:=', '=\\=', '@<', '@>', '@=<', '@>=']).

library_predicate(M, Term) :-
    (   predicate_property(M:Term, imported_from(_))
    ;   predicate_property(M:Term, built_in)
    ;   predicate_property(M:Term, autoload(_))
    ;   functor(Term, Name, Arity), '$in_library'(Name, Arity, _)
    ),
    !.

%   Module-qualified code could reach another module's dynamic predicates (user:term_expansion/2 and
%   friends), which library(sandbox) lets an explicitly qualified assert/1 write: refuse any term naming an
%   existing module other than the node's (a module that does not exist yet is refused by the sandbox).
no_other_module(M, Term) :-
    (   sub_term(Sub, Term), compound(Sub), qualifies(Sub, Other), Other \== M
    ->  throw(error(permission_error(call, sandboxed, Sub), other_module))
    ;   true
    ).

qualifies(Other:_, Other) :- atom(Other), current_module(Other).    % data such as Host:Port passes
qualifies(@(_, Other), Other) :- atom(Other), current_module(Other).

%   One line for the user: what failed, where swipl says.
error_reply(time_limit_exceeded, Line, _{ok: false, kind: timeout, message: "timed out", line: Line}) :- !.
error_reply(error(resource_error(What), _), Line,
            _{ok: false, kind: memory, message: Message, line: Line}) :- !,
    format(string(Message), "out of memory (~w)", [What]).
error_reply(error(syntax_error(What), tea_load_code(TextLine)), Line,
            _{ok: false, kind: syntax, message: Message, line: Line}) :- !,
    message_line(error(syntax_error(What), _), Text),
    format(string(Message), "~w (line ~w of the text tea_load_code/1 read)", [Text, TextLine]).
error_reply(error(syntax_error(What), Context), Line0, _{ok: false, kind: syntax, message: Message, line: Line}) :-
    !,
    ( Context = stream(_, Line, _, _) -> true ; Line = Line0 ),
    message_line(error(syntax_error(What), _), Message).
error_reply(error(permission_error(call, sandboxed, Goal), other_module), Line,
            _{ok: false, kind: sandbox, message: Message, line: Line}) :- !,
    format(string(Message), "the sandbox refuses ~q: a Prolog node's code stays in its own module", [Goal]).
error_reply(error(permission_error(call, sandboxed, Goal), Context), Line,
            _{ok: false, kind: sandbox, message: Message, line: Line}) :- !,
    ( Context = sandbox(_, Parents), last(Parents, Called) -> true ; Called = Goal ),
    sandboxed_name(Called, Name),
    format(string(Message), "the sandbox refuses ~w (files, processes, the network and other modules are \c
                             out of reach of a Prolog node)", [Name]).
error_reply(error(instantiation_error, sandbox(_, _)), Line,
            _{ok: false, kind: sandbox, message: Message, line: Line}) :- !,
    Message = "the sandbox cannot check a goal built while the node runs (call/N of a variable)".
error_reply(error(existence_error(procedure, Missing), _), Line,
            _{ok: false, kind: error, message: Message, line: Line}) :- !,
    (   Missing = _:Name/Arity -> true
    ;   Missing = Name/Arity -> true
    ;   ( Missing = _:Goal -> true ; Goal = Missing ), functor(Goal, Name, Arity)
    ),
    format(string(Message), "unknown procedure ~q", [Name/Arity]).
error_reply(error(Formal, _), Line, _{ok: false, kind: error, message: Message, line: Line}) :- !,
    message_line(error(Formal, _), Message).     % without the context: it names the driver's own calls
error_reply('$aborted', Line, _{ok: false, kind: error, message: "aborted (abort/0)", line: Line}) :- !.
error_reply(Thrown, Line, _{ok: false, kind: error, message: Message, line: Line}) :-
    format(string(Message), "uncaught exception ~q", [Thrown]).

sandboxed_name(Goal, Name) :-
    (   Goal = Module:G, node_module(Module) -> true
    ;   Goal = Module:G, \+ sub_term(_:_, G), Module \== user -> true
    ;   Goal \= _:_, G = Goal
    ),
    callable(G),
    !,
    functor(G, F, A),
    format(string(Name), "~w/~w", [F, A]).
sandboxed_name(Goal, Name) :-
    format(string(Name), "~q", [Goal]).

message_line(Error, Line) :-
    (   catch('$messages':translate_message(Error, Lines, []), _, fail)
    ->  with_output_to(string(Text), print_message_lines(current_output, '', Lines)),
        split_string(Text, "\n", " \t", Parts),
        exclude(==(""), Parts, [First|_])
    ->  Line = First
    ;   format(string(Line), "~q", [Error])
    ).

:- initialization(main, main).
