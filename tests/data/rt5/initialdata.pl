# RT initialdata for the private instance of tests/rt5.py, loaded once with
# `rt-setup-database-5 --action insert --datafile` after `--action init` (the stock data: scrips, templates,
# the "On Create Autoreply To Requestors" scrip with its "Autoreply in HTML" template, and so on).
# It adds what an RT administrator sets up before taking mail: a queue with its address, two agents, and
# the rights a customer's mail needs to open and answer a ticket.
use utf8;

@Queues = (
    {   Name              => 'Sales',
        Description       => 'Acme Sales',
        CorrespondAddress => 'rt@acme.test',
        CommentAddress    => 'rt-comment@acme.test',
    },
);

@Users = (
    {   Name         => 'yossi',
        RealName     => 'Yossi Levi',
        EmailAddress => 'yossi.levi@acme.test',
        Password     => 'yossi-test-password',
        Privileged   => 1,
    },
    {   Name         => 'ruth',
        RealName     => 'רות כהן',
        EmailAddress => 'ruth.cohen@acme.test',
        Password     => 'ruth-test-password',
        Privileged   => 1,
    },
);

@Groups = (
    {   Name        => 'Acme agents',
        Description => 'Agents who answer the Sales queue',
        Members     => { Users => [ 'yossi', 'ruth' ] },  # added after @Users (RT::Handle::InsertData)
    },
);

@ACL = (
    ( map { { GroupId => 'Acme agents', GroupDomain => 'UserDefined', Queue => 'Sales', Right => $_ } }
        qw(SeeQueue ShowTicket ReplyToTicket CommentOnTicket ModifyTicket OwnTicket CreateTicket) ),
    # Mail from anyone may open a ticket and write on it (RT's usual public-queue set-up).
    ( map { { GroupDomain => 'SystemInternal', GroupType => 'Everyone', Queue => 'Sales', Right => $_ } }
        qw(CreateTicket ReplyToTicket) ),
);

1;
